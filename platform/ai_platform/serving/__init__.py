"""Online scoring: an HTTP service (`ai-platform serve`) that scores flights with each model's champion."""
