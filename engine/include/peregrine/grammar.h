// Guided generation: GBNF grammars (and JSON schemas compiled to them) that constrain which tokens may
// come next.
//
// GBNF as llama.cpp writes it:
//   root   ::= "{" ws pair ("," ws pair)* "}"      # a rule: name ::= alternatives
//   pair   ::= string ":" ws [0-9]+                  # sequences of elements
//   string ::= "\"" ( [^"\\] | "\\" ["\\nt] )* "\""  # literals, [classes], [^negated], (groups), rule names
//   ws     ::= [ \t\n]{0,4}                          # postfix *, +, ?, {m}, {m,}, {m,n}; "." is any character
// Literals and classes take \n \r \t \\ \" \' \[ \] \- \xHH \uHHHH \UHHHHHHHH. Comments run from # to
// the end of the line. A rule may span lines; the next rule starts at the next `name ::=`. Characters
// are Unicode code points matched against the UTF-8 text of the tokens.
//
// Errors (GrammarError) give the line and column: "grammar:3:14: expected ')' to close the group opened
// at 3:5". Undefined rules, rules defined twice and left recursion (a rule that can reach itself without
// consuming a character, which would never terminate) are errors at parse time.
//
// Matching is a pushdown automaton over "stacks" of grammar positions (one per way the text so far can
// be parsed). The allowed-token mask walks a prefix tree of the vocabulary's token texts together with
// the stacks, so tokens sharing a prefix are checked once and a dead prefix prunes its whole subtree.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "peregrine/error.h"

namespace peregrine {

class Vocab;

// A grammar or schema that cannot be compiled. line/column are 1-based positions in the grammar text (or
// in the schema's JSON text for JSON syntax errors); 0 when the error is about the schema's meaning, in
// which case the message names the JSON pointer of the offending node ("/properties/age/type").
class GrammarError : public InvalidRequestError {
public:
    GrammarError(const std::string& message, int line, int column);
    int line() const { return line_; }
    int column() const { return column_; }

private:
    int line_, column_;
};

class Grammar {
public:
    // Throws GrammarError.
    static std::shared_ptr<const Grammar> parse(std::string_view gbnf, std::string_view root_rule = "root");
    // Compiles a JSON schema (see json_schema_to_gbnf) and parses the result. Throws GrammarError.
    static std::shared_ptr<const Grammar> from_json_schema(std::string_view schema_json);

    ~Grammar();
    Grammar(const Grammar&) = delete;
    Grammar& operator=(const Grammar&) = delete;

    size_t n_rules() const;  // after desugaring repetitions into helper rules

    struct Impl;
    const Impl& impl() const { return *impl_; }

private:
    explicit Grammar(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// JSON schema -> GBNF. The generated JSON is compact (no whitespace) so every key, quote, colon and brace
// is fully determined and can be forced. Supported: type (string, integer, number, boolean, null, object,
// array, or a list of them), properties in declaration order with `required` (missing optional ones are
// skipped; other keys are never generated), items, minItems/maxItems, minLength/maxLength, enum, const,
// anyOf/oneOf, $ref to "#/$defs/..." or "#/definitions/..." (recursion allowed), and {} or true for any
// JSON value. Numbers are limited to 16 integer digits, 15 fraction digits and 2 exponent digits (so
// every number fits a double).
// Throws GrammarError: JSON syntax errors carry line:column, unsupported or invalid schema parts name
// their JSON pointer.
std::string json_schema_to_gbnf(std::string_view schema_json);

// The vocabulary as the grammar sees it: every token's text (the bytes StreamDecoder would show), sorted
// into a prefix tree once. Control tokens other than end-of-generation ones and empty pieces are never
// allowed. Build one per Vocab and share it between requests.
class GrammarVocabulary {
public:
    explicit GrammarVocabulary(const Vocab& vocab);
    ~GrammarVocabulary();
    GrammarVocabulary(const GrammarVocabulary&) = delete;
    GrammarVocabulary& operator=(const GrammarVocabulary&) = delete;

    int32_t n_tokens() const;
    const std::string& piece(int32_t id) const;  // "" for tokens the grammar never allows
    bool is_eog(int32_t id) const;

    struct Impl;
    const Impl& impl() const { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

// The parse state of one generation. Cheap to copy (a copy is an independent state, used to look ahead
// along drafted tokens).
class GrammarMatcher {
public:
    GrammarMatcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const GrammarVocabulary> vocab);
    GrammarMatcher(const GrammarMatcher&);
    GrammarMatcher& operator=(const GrammarMatcher&);
    ~GrammarMatcher();

    // Advances by a token (end-of-generation tokens are accepted only where the grammar may end, and end
    // it). Returns false and leaves the state unchanged if the grammar does not allow the token.
    bool accept_token(int32_t id);
    // Advances by raw text; false (state unchanged) if not allowed.
    bool accept_text(std::string_view text);
    bool is_allowed(int32_t id) const;

    // allowed[id] = 1 for every token the grammar allows next (n_tokens entries).
    void allowed_tokens(std::vector<uint8_t>& allowed) const;
    // Sets the logits of every disallowed token to -inf (logits.size() == n_tokens).
    void apply_mask(std::span<float> logits) const;

    // The text the grammar allows next when only one text is possible (empty when there is a choice,
    // including the choice to end), up to max_bytes.
    std::string forced_text(size_t max_bytes = 256) const;
    // The longest token whose whole text is a prefix of forced_text() (a normal token before a byte token
    // with the same text), or -1.
    int32_t forced_token() const;

    bool can_end() const;    // the text so far is a complete sentence of the grammar
    bool finished() const;   // it is complete and nothing may follow (only end-of-generation is allowed)

    struct State;  // engine-internal

private:
    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const GrammarVocabulary> vocab_;
    std::unique_ptr<State> state_;
};

}  // namespace peregrine
