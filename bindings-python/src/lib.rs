//! Python bindings (issue: Python package). Empty until that issue lands.
