"""The command line: one thin module per ``python -m steer_lib <command>``.

Each parses its arguments, calls the stage that does the work, and prints. They are the only modules that
parse arguments or print; a user's mistake ends in one ``error:`` line and exit code 2, never a traceback.
"""
