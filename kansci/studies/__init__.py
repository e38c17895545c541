"""Runnable studies: python -m kansci.studies.<name>."""
