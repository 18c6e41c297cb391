// SentencePiece-style (SPM) tokenization of one text fragment, as llama.cpp does it: start from single
// UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the vocabulary entry
// with the highest score (leftmost on ties), then emit every final piece as its token or, when it
// is not in the vocabulary, as byte-fallback tokens <0xNN>.
//
// The caller has already applied the SPM conventions: the optional "▁" prefix and every space
// replaced by "▁" (U+2581).
//
// llama.cpp also records which pair produced each merged piece so it can "resegment" a final piece
// that is not a token. A pair is only ever merged when the result is a vocabulary entry, so the
// only final pieces that are not tokens are single characters, and resegmenting reduces to the
// byte fallback below.
#include <queue>
#include <string>
#include <vector>

#include "vocab/unicode_utf8.h"
#include "vocab/vocab_data.h"

namespace peregrine::vocab_detail {

namespace {

struct Symbol {
    int prev;
    int next;
    size_t offset;   // into the fragment text
    size_t length;   // 0 once merged into its left neighbour
};

struct Candidate {
    int left;
    int right;
    float score;
    size_t length;   // left.length + right.length when the candidate was made; a mismatch means stale
};

// Highest score first; on equal scores the leftmost pair first.
struct CandidateOrder {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

class SpmSession {
public:
    SpmSession(const VocabData& vocab, std::string_view text) : vocab_(vocab), text_(text) {}

    void run(std::vector<int32_t>& out) {
        // Characters by their lead byte; a truncated sequence at the end is cut short.
        for (size_t offset = 0; offset < text_.size();) {
            const size_t length = std::min(utf8_lead_length(static_cast<uint8_t>(text_[offset])), text_.size() - offset);
            const int index = static_cast<int>(symbols_.size());
            symbols_.push_back({index - 1, offset + length == text_.size() ? -1 : index + 1, offset, length});
            offset += length;
        }
        for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) consider(i - 1, i);

        while (!queue_.empty()) {
            const Candidate best = queue_.top();
            queue_.pop();
            Symbol& left = symbols_[static_cast<size_t>(best.left)];
            Symbol& right = symbols_[static_cast<size_t>(best.right)];
            if (left.length == 0 || right.length == 0 || left.length + right.length != best.length) continue;

            left.length += right.length;
            right.length = 0;
            left.next = right.next;
            if (right.next >= 0) symbols_[static_cast<size_t>(right.next)].prev = best.left;

            consider(left.prev, best.left);
            consider(best.left, left.next);
        }

        for (int i = symbols_.empty() ? -1 : 0; i != -1; i = symbols_[static_cast<size_t>(i)].next) {
            emit(symbols_[static_cast<size_t>(i)], out);
        }
    }

private:
    void consider(int left, int right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols_[static_cast<size_t>(left)];
        const Symbol& r = symbols_[static_cast<size_t>(right)];
        const std::string_view merged = text_.substr(l.offset, l.length + r.length);
        const int32_t id = vocab_.find(merged);
        if (id < 0) return;
        queue_.push({left, right, vocab_.tokens[static_cast<size_t>(id)].score, merged.size()});
    }

    // A final piece is either a vocabulary entry (every merge produced one) or a single character
    // that is not; the latter falls back to one token per byte.
    void emit(const Symbol& symbol, std::vector<int32_t>& out) const {
        const std::string_view piece = text_.substr(symbol.offset, symbol.length);
        const int32_t id = vocab_.find(piece);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
        for (const char c : piece) {
            // llama.cpp fails on a vocabulary without byte tokens; UNK (when there is one) is kinder.
            const int32_t byte_id = vocab_.byte_tokens[static_cast<uint8_t>(c)];
            if (byte_id >= 0) {
                out.push_back(byte_id);
            } else if (vocab_.unk >= 0) {
                out.push_back(vocab_.unk);
            }
        }
    }

    const VocabData& vocab_;
    std::string_view text_;
    std::vector<Symbol> symbols_;
    std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue_;
};

}  // namespace

void spm_tokenize(const VocabData& vocab, std::string_view text, std::vector<int32_t>& out) {
    SpmSession(vocab, text).run(out);
}

}  // namespace peregrine::vocab_detail
