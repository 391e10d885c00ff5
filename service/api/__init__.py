"""The HTTP entrypoint: thin views over the use cases."""
