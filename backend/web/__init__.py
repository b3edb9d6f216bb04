"""The web client: the member's page (``/``) and the staff dashboard (``/staff``)."""
