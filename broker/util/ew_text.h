/* Text for people: words quoted as a shell reads them, controls escaped. */
#ifndef EW_TEXT_H
#define EW_TEXT_H

#include <stddef.h>

#include "ew_buf.h"

/*
 * How ew_text_put_word quotes (flags). Default: a POSIX shell's single
 * quotes ('\'' for a quote), with every C0 control shown as '?' so that
 * the text stays on one line.
 */
/* Python's shlex.quote: '"'"' for a quote, '^' not taken as safe. */
#define EW_TEXT_SHLEX 0x1
/* A word with a control (or a direction override) as $'...', escaped. */
#define EW_TEXT_ESCAPE 0x2

/*
 * Append w as one word a shell would read back: as it is when it holds
 * only letters, digits and -_./=:,+@%^ (not empty), else quoted as flags
 * say. Errors (a full buffer) are left to the buffer's next user.
 */
void ew_text_put_word(struct ew_buf *b, const char *w, unsigned flags);

/*
 * Append s[0..n) for a terminal: C0 and C1 controls, DEL and
 * bidirectional overrides escaped (\n, \t, \e, \xHH, \uHHHH).
 */
void ew_text_put_clean(struct ew_buf *b, const char *s, size_t n);

#endif /* EW_TEXT_H */
