// Syntax tree of a parsed template. One node struct per category keeps the interpreter a pair of
// switch statements; the comment on each kind says which fields it uses.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/budget.h"
#include "chat/value.h"

namespace peregrine::chat {

enum class ExprKind {
    Literal,      // literal
    Name,         // name
    List,         // children = items (a tuple when `tuple` is set)
    Dict,         // children = key0, value0, key1, value1, ...
    Attribute,    // children[0] . name
    Index,        // children[0] [ children[1] ]
    Slice,        // children[0] [ children[1] : children[2] : children[3] ]  (null = omitted)
    Call,         // children[0] ( children[1..], keywords )
    Filter,       // children[0] | name ( children[1..], keywords )
    Test,         // children[0] is [not] name ( children[1..], keywords )
    Not,          // not children[0]
    Negate,       // - children[0]
    Plus,         // + children[0]
    Binary,       // children[0] op children[1]; op is one of + - * / // % ** ~
    Compare,      // children[0] ops[0] children[1] ops[1] children[2] ...; == != < <= > >= in notin
    And,          // children[0] and children[1]
    Or,           // children[0] or children[1]
    Conditional,  // children[1] if children[0] else children[2] (null = undefined)
};

// The name a `{% set x | filter %}` body is bound to while its filters run: no template can spell it.
inline constexpr std::string_view kSetBlockBody = " set block body";

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    ExprKind kind = ExprKind::Literal;
    SourcePos pos;
    int depth = 1;  // height of this subtree; the parser bounds it
    Value literal;
    std::string name;
    std::vector<std::string> ops;
    std::vector<ExprPtr> children;
    std::vector<std::pair<std::string, ExprPtr>> keywords;
    bool negated = false;  // Test: `is not`
    bool tuple = false;    // List: written as a tuple
};

enum class StmtKind {
    Text,       // text
    Output,     // {{ expr }}
    If,         // branches (condition, body) ..., else_body
    For,        // targets in expr [if filter] body [else else_body]
    Set,        // targets = expr, or namespace_name.attribute = expr
    SetBlock,   // {% set targets[0] | filters %} body {% endset %}
    Macro,      // {% macro name(params) %} body
    With,       // {% with targets[i] = values[i] ... %} body
    Break,
    Continue,
    Block,      // a body without a scope of its own ({% generation %})
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
    std::string name;
    ExprPtr default_value;  // null when required
};

struct Stmt {
    StmtKind kind = StmtKind::Text;
    SourcePos pos;
    std::string text;
    ExprPtr expr;
    ExprPtr filter;                                   // For: the loop filter; SetBlock: a Filter chain
    std::vector<std::string> targets;
    std::string namespace_name;                       // Set: `ns` in ns.attr
    std::string attribute;                            // Set: `attr` in ns.attr
    std::vector<std::pair<ExprPtr, Body>> branches;   // If
    std::vector<ExprPtr> values;                      // With
    Body body;
    Body else_body;
    std::string name;                                 // Macro
    std::vector<MacroParam> params;                   // Macro
};

// A parsed template. Shared (read-only) between renders.
struct Program {
    std::string source;  // as given
    Body body;
};

}  // namespace peregrine::chat
