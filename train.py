"""train.py: not yet implemented (see the project's open issues)."""

import sys

if __name__ == "__main__":
    sys.exit("train.py: not yet implemented; it arrives with its issue (see README.md, Status).")
