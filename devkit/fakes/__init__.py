"""The external systems, played by small real HTTP servers with switches that make them
fail, hang, lose answers or repeat themselves: ``accounting``, ``payment_provider``,
``sms_gateway``, ``partner_receiver`` (``base``: what they share). ``make run`` runs the
first two as processes (``python -m devkit.fakes.accounting``); tests serve them in-process."""
