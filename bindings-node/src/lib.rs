//! Node bindings (issue: Node package). Empty until that issue lands.
