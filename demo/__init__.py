"""The demo: Dexo.chat, a fake company on local emulators, for newcomers and for the tests.

Owns the emulators (moto with fault injection, the GCS emulator, TLS servers with a test CA),
the seeded estate and the `soc2-evidence demo` run. It is a client of the product, not part of
the evidence path: `demo` may import flows, collectors, reports and controls; of the product only
the CLI module that offers the `demo` subcommand imports `demo`.
"""
