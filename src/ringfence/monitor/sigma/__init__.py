"""Sigma engine: pySigma parses, ``compiler`` turns conditions into Python predicates (RE2 for
regular expressions), ``fields`` maps field names per log source, ``engine`` plans, indexes
and evaluates rules, ``correlation`` runs the meta-rules, ``testing`` runs embedded cases.
Never evaluates a construct it cannot honour: those are reported per rule."""
