"""What a server does around a job, whatever its web framework: who is asking and with which of
their models (``visitors``), the words a visitor reads (``words``), what the server offers
(``catalogue``), each request's folder, uploads and previews (``folders``), a job beside its
request (``background``), where this host runs its jobs and what that changes (``host``), and the
tools AI agents call (``agents``, with ``fetch`` for what they name by URL).

``app.py`` adapts these to Gradio's widgets and events; nothing in this package imports Gradio.
"""
