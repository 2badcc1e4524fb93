; Highlighting of .ports files. The patterns do not overlap, so the result is the same whether
; the editor lets the first matching pattern win (tree-sitter highlight, Helix) or the last (Neovim).

(comment) @comment @spell

(string) @string
(escape_sequence) @string.escape

; Keywords

[
  "module"
  "source"
] @keyword

[
  "use"
  "as"
] @keyword.import

[
  "flag"
  "option"
  "param"
  "role"
  "external"
  "group"
  "service"
  "note"
] @keyword.type

[
  "never"
  "set"
  "bind"
] @keyword

"when" @keyword.conditional

(local) @keyword.modifier
(management) @keyword.modifier

(in_namespace) @keyword

(self) @variable.builtin

(bool_lit) @boolean

[
  (ported_protocol)
  (portless_protocol)
] @type.builtin

(selector_kind) @function.builtin

; Declarations

(module_decl name: (dotted_name) @module)
(use_decl module: (dotted_name) @module)
(use_alias name: (name) @module)

(role_decl name: (name) @type.definition)
(external_decl name: (name) @type.definition)
(group_decl name: (name) @type.definition)

(flag_decl name: (name) @variable)
(option_decl name: (name) @variable)
(param_decl name: (name) @variable.parameter)
(service_decl name: (name) @function)

(choices (name) @constant)
(option_default (name) @constant)

(note_decl label: (note_label) @label)
(note_refs (note_label) @label)

; References

(endpoints (qualified_name) @type)
(members (qualified_name) @type)
(bind_stmt name: (qualified_name) @type)
(set_stmt name: (qualified_name) @variable)
(set_stmt (qualified_name) @constant .)

(service_ref) @function.call
(port_param) @variable.parameter

(when_clause (qualified_name) @variable)
(not_expr (qualified_name) @variable)
(and_expr (qualified_name) @variable)
(or_expr (qualified_name) @variable)
(paren_expr (qualified_name) @variable)
(comparison left: (qualified_name) @variable)
(comparison right: (qualified_name) @constant)

(label key: (label_word) @property)
(label value: (label_word) @string)
(namespace_clause namespace: (label_word) @string)

; Numbers and addresses

(port_number) @number
(address) @number

; Operators and punctuation

(arrow) @operator

[
  "|"
  "||"
  "&&"
  "!"
  "=="
  "!="
  "="
  "-"
  "/"
] @operator

[
  ":"
  ","
  "."
] @punctuation.delimiter

[
  "{"
  "}"
  "["
  "]"
  "("
  ")"
] @punctuation.bracket
