"""sla demo data for `kehu seed_demo` (imported by service/demo.py)."""
