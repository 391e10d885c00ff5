"""`python -m devtools.demo ...`."""

from devtools.demo.cli import demo

demo(prog_name="python -m devtools.demo")
