"""Where reports are rendered: terminal text, JSON (``Report.to_json``) and Turtle."""
