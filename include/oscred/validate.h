/* Input validators shared by every surface. Pure functions, thread-safe, no allocation. */
#ifndef OSC_VALIDATE_H
#define OSC_VALIDATE_H

#include <stddef.h>

/* Principal names: [A-Za-z0-9_+=,.@-]{1,64} (e-mail addresses fit). */
int osc_valid_name(const char *s);
/* Access key ids as oscred issues them: exactly 20 of [A-Z0-9]. */
int osc_valid_access_key(const char *s);
/* Principal, domain and token ids: exactly 32 lowercase hex digits. */
int osc_valid_id(const char *s);
/* Number of characters of a NUL-terminated UTF-8 string, or -1 if it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
long osc_utf8_length(const char *s);
/* Decodes the UTF-8 character at s (not at its NUL): its length in bytes and *cp, or 0 when the
 * bytes there are not valid UTF-8. */
size_t osc_utf8_next(const char *s, unsigned long *cp);
/* Unicode noncharacters: U+FDD0..U+FDEF and the last two code points of every plane. Never text;
 * U+FFFE and U+FFFF cannot even appear in XML. */
int osc_noncharacter(unsigned long cp);
/* Free text (descriptions): valid UTF-8, at most max_chars characters, no control characters and
 * no noncharacters. */
int osc_valid_text(const char *s, size_t max_chars);
/* Passwords: valid UTF-8, 1 to 1024 bytes, no NUL (JSON may carry one). */
int osc_valid_password(const char *s, size_t bytes);

#endif
