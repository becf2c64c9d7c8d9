"""The time-aware purchase-prediction protocol (docs/protocol.md) as pure functions.

Import from the modules (``artrec.recsys.evaluate``, ``artrec.recsys.config``, ...): the
package itself imports nothing, so reading the protocol's config (``--help``) loads no torch.
"""
