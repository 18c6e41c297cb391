// Byte-level BPE tokenization of one text fragment, as llama.cpp does it:
//   1. the pre-tokenizer cuts the fragment into words;
//   2. each word's bytes are spelled in the byte-level alphabet (so " the" becomes "Ġthe");
//   3. inside each word, the adjacent pair with the lowest merge rank is merged (leftmost on ties)
//      until no listed merge applies;
//   4. each final piece becomes its token. A piece that is not in the vocabulary (a character the
//      vocabulary lacks) is emitted byte by byte where single-byte tokens exist, else dropped, which
//      is llama.cpp's behaviour.
// Merges are looked up by token ids: the loader checked that both halves and the result of every
// merge are tokens, so (left id, right id) names a merge exactly as llama.cpp's (left, right) texts.
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
    size_t offset;   // into the encoded word
    size_t length;   // 0 once merged into its left neighbour
    int32_t id;      // the token this piece spells, -1 if none (then it takes part in no merge)
};

struct Candidate {
    int left;
    int right;
    int32_t rank;
    int32_t result;  // the merged token
    size_t length;   // combined length when made; a mismatch later means the pair is stale
};

// Lowest rank first; on equal ranks the leftmost pair first.
struct CandidateOrder {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

class BpeWordMerger {
public:
    explicit BpeWordMerger(const VocabData& vocab) : vocab_(vocab) {}

    void run(std::string_view word, std::vector<int32_t>& out) {
        word_ = word;
        symbols_.clear();
        queue_ = {};

        if (vocab_.ignore_merges) {
            const int32_t whole = vocab_.find(word);
            if (whole >= 0) {
                out.push_back(whole);
                return;
            }
        }

        // The encoded word is valid UTF-8 by construction; split it into characters.
        for (size_t offset = 0; offset < word.size();) {
            const size_t length = std::min(utf8_lead_length(static_cast<uint8_t>(word[offset])), word.size() - offset);
            const int index = static_cast<int>(symbols_.size());
            symbols_.push_back({index - 1, offset + length == word.size() ? -1 : index + 1, offset, length,
                                vocab_.find(word.substr(offset, length))});
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
            left.id = best.result;
            right.length = 0;
            left.next = right.next;
            if (right.next >= 0) symbols_[static_cast<size_t>(right.next)].prev = best.left;

            consider(left.prev, best.left);
            consider(best.left, left.next);
        }

        for (const Symbol& symbol : symbols_) {
            if (symbol.length == 0) continue;
            if (symbol.id >= 0) {
                out.push_back(symbol.id);
                continue;
            }
            for (const char c : word_.substr(symbol.offset, symbol.length)) {
                const int32_t byte_id = vocab_.find(std::string_view(&c, 1));
                if (byte_id >= 0) out.push_back(byte_id);
            }
        }
    }

private:
    void consider(int left, int right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols_[static_cast<size_t>(left)];
        const Symbol& r = symbols_[static_cast<size_t>(right)];
        if (l.id < 0 || r.id < 0) return;
        const MergeInfo merge = vocab_.merges.find(l.id, r.id);
        if (merge.rank < 0) return;
        queue_.push({left, right, merge.rank, merge.result, l.length + r.length});
    }

    const VocabData& vocab_;
    std::string_view word_;
    std::vector<Symbol> symbols_;
    std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue_;
};

}  // namespace

void bpe_tokenize(const VocabData& vocab, std::string_view text, std::vector<int32_t>& out) {
    BpeWordMerger merger(vocab);
    std::string encoded;
    for (const std::string_view word : vocab.pre_tokenizer->split(text)) {
        encoded.clear();
        for (const char c : word) encoded += byte_to_unicode(static_cast<uint8_t>(c));
        merger.run(encoded, out);
    }
}

}  // namespace peregrine::vocab_detail
