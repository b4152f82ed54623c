"""The two pages ``mbsim serve`` writes itself (:mod:`tui.webserve` fills them in)."""

#: The page for one tab. textual.js (from /static) finds ``.textual-terminal``, reads its
#: ``data-session-websocket-url`` and ``data-font-size`` and adds ``-first-byte`` / ``-closed``
#: to the body. The font is the file textual-serve ships, served from here; if it cannot load,
#: the terminal falls back to the local monospace fonts named after it (same cell grid: xterm.js
#: measures whichever font it gets).
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<link rel="preload" href="/static/fonts/RobotoMono-VariableFont_wght.ttf" as="font" type="font/ttf" crossorigin>
<style>
@font-face {{ font-family: "Roboto Mono"; font-style: normal; font-weight: 100 700;
  src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }}
@font-face {{ font-family: "Roboto Mono"; font-style: italic; font-weight: 100 700;
  src: url("/static/fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype"); }}
html, body {{ margin: 0; height: 100%; background: #0c181f; color: #eee;
  font-family: "Roboto Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace; }}
.note {{ position: absolute; inset: 0; display: flex; align-items: center;
  justify-content: center; text-align: center; font-size: 16px; }}
body.-first-byte .starting {{ display: none; }}
.ended {{ display: none; z-index: 10; background: #0c181f; }}
body.-closed .ended {{ display: flex; }}
.ended button {{ margin-top: 1em; padding: .6em 1.6em; font: inherit; color: #fff;
  background: #5e0ba7; border: 0; cursor: pointer; }}
#terminal {{ position: absolute; inset: 0; opacity: 0; }}
body.-first-byte #terminal {{ opacity: 1; }}
</style>
<script src="/static/js/textual.js"></script>
</head>
<body>
<div class="note starting">{title}: starting a session…</div>
<div class="note ended"><div>Session ended.<br>
<button type="button" onclick="window.location.reload()">Start again</button></div></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{websocket_url}"
 data-font-size="{font_size}"></div>
</body>
</html>
"""

#: A refusal (403, 503): says what happened and what to do, in the same colours as the app page.
MESSAGE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 0; height: 100vh; display: flex; align-items: center; justify-content: center;
background: #0c181f; color: #eee; font: 16px "DejaVu Sans Mono", Menlo, Consolas, monospace; }}
main {{ max-width: 40em; padding: 2em; background: #12232d; }}</style></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>
"""
