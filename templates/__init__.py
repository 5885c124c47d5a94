"""condorexec's Jinja2 templates, shipped inside the package as ``condorexec.templates`` (setup.py maps
this top-level directory there); condorexec.render loads them."""
