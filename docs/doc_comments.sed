# Doxygen input filter for include/dezero/*.h. The headers document with plain
# block comments; this turns them into Doxygen's: the comment that opens the
# file describes the file (a \file command where it closes), a comment that
# opens a line describes what follows it, and one after a declaration on the
# same line describes that declaration. Every line stays where it is, so a
# warning points at the header's own line.
1s,^/\*,/**,
1,\,\*/,s,\*/,\\file */,
s,^\([[:space:]]*\)/\*\([^*]\),\1/**\2,
s,\([;,{]\)\([[:space:]]*\)/\*\([^*]\),\1\2/**<\3,
