"""The one exception type the library raises for problems a user can fix.

The CLI turns it into a one-line message and exit code 2, the dashboard into ``st.error``;
anything else that escapes is a bug and keeps its traceback.
"""


class FerError(Exception):
    """A bad input or request, described in one line that says what to do about it."""
