package encoder

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Token is one word of a text: its normalised form and the byte span it
// came from in the original string.
type Token struct {
	Term       string
	Start, End int // byte offsets into the original text
}

// span is a token inside a tokenizer's buffer: term bytes buf[a:b], source
// bytes text[start:end].
type span struct{ a, b, start, end int32 }

// tokenizer splits text into normalised word tokens, reusing its buffers;
// see Tokenize for the rules. Not safe for concurrent use.
type tokenizer struct {
	buf   []byte
	spans []span
}

// singleRune reports runes that form a token by themselves.
func singleRune(r rune) bool {
	if r < 0xA0 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) || unicode.Is(unicode.So, r)
}

func wordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

// tokenize fills tk.spans for text, keeping at most maxTokens (0: no limit).
func (tk *tokenizer) tokenize(text string, maxTokens int) {
	tk.buf = tk.buf[:0]
	tk.spans = tk.spans[:0]
	start := -1
	for i := 0; i < len(text); {
		c := text[i]
		var r rune
		size := 1
		if c < utf8.RuneSelf {
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && size == 1 {
				r = -1 // invalid byte: a separator
			}
		}
		switch {
		case r >= 0 && wordRune(r) && !singleRune(r):
			if start < 0 {
				if r >= utf8.RuneSelf && unicode.IsMark(r) {
					break // a mark with no word before it (e.g. an emoji's variation selector)
				}
				start = i
			}
		default:
			if start >= 0 {
				tk.emit(text, start, i)
				start = -1
			}
			if r > 0 && singleRune(r) {
				tk.emit(text, i, i+size)
			}
		}
		if maxTokens > 0 && len(tk.spans) >= maxTokens {
			return
		}
		i += size
	}
	if start >= 0 {
		tk.emit(text, start, len(text))
	}
	if maxTokens > 0 && len(tk.spans) > maxTokens {
		tk.spans = tk.spans[:maxTokens]
	}
}

func (tk *tokenizer) emit(text string, start, end int) {
	a := len(tk.buf)
	tk.buf = appendNormalized(tk.buf, text[start:end])
	if len(tk.buf) == a {
		return
	}
	tk.spans = append(tk.spans, span{int32(a), int32(len(tk.buf)), int32(start), int32(end)})
}

// appendNormalized appends the NFKC, lower-cased form of s to dst.
func appendNormalized(dst []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst
	}
	a := len(dst)
	dst = norm.NFKC.AppendString(dst, s)
	// Lower-case in place when no rune changes its encoded length (the usual
	// case); otherwise rebuild the tail.
	tail := dst[a:]
	same := true
	for i := 0; i < len(tail); {
		r, n := utf8.DecodeRune(tail[i:])
		if l := unicode.ToLower(r); l != r && utf8.RuneLen(l) != n {
			same = false
			break
		}
		i += n
	}
	if same {
		for i := 0; i < len(tail); {
			r, n := utf8.DecodeRune(tail[i:])
			if l := unicode.ToLower(r); l != r {
				utf8.EncodeRune(tail[i:], l)
			}
			i += n
		}
		return dst
	}
	tmp := append([]byte(nil), tail...)
	dst = dst[:a]
	for i := 0; i < len(tmp); {
		r, n := utf8.DecodeRune(tmp[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// Tokenize splits text into normalised word tokens with byte offsets into
// text. The rules are stable (changing them changes every feature id):
//   - a token is a maximal run of letters, marks and digits (Unicode L, M, N);
//   - each Han, Hiragana or Katakana rune, and each symbol of category So
//     (emoji and the like), is a token on its own;
//   - everything else — spaces, punctuation, control characters, NUL and
//     invalid UTF-8 bytes — separates tokens and is dropped;
//   - a combining mark that does not follow a letter or digit is dropped;
//   - each token is NFKC-normalised and lower-cased.
//
// At most maxTokens tokens are returned (0: no limit). Tokenize allocates;
// the featurizer uses an allocation-free internal form of the same code.
func Tokenize(text string, maxTokens int) []Token {
	var tk tokenizer
	tk.tokenize(text, maxTokens)
	out := make([]Token, len(tk.spans))
	for i, s := range tk.spans {
		out[i] = Token{Term: string(tk.buf[s.a:s.b]), Start: int(s.start), End: int(s.end)}
	}
	return out
}
