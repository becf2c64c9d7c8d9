"""Tables and figures for people: console tables, comparison reports."""
