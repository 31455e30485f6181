"""Number formats for Mongolian, which Django's own `mn` formats leave to the global defaults (no
grouping): Unicode CLDR's, `1,234,567.89`. Django reads the rest (dates) from its own module."""

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
