"""The soak test of ``make soak`` (soak/soak.py): faults at random while the pipeline runs."""
