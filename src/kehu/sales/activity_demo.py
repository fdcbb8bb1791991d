"""activity demo data for `kehu seed_demo` (imported by sales/demo.py)."""
