"""mbsim's terminal user interface (Textual) and its command line (tui.cli)."""
