"""The operator console: a web page for the people behind "상담원 연결".

Served by ``switchboard host`` at ``/console`` (:func:`host.console.app.console_app`): operators
sign in (:mod:`host.console.operators`), work the review queue (:mod:`host.console.queue`), take
over live sessions (:mod:`host.console.takeover`), approve waiting tool calls, read sessions and
the audit log's state. See docs/console.md.
"""
