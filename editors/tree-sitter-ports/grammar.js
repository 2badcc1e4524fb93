/**
 * @file The tree-sitter grammar of .ports files.
 *
 * It follows grammar/ports.pest rule for rule (same statements, flows, specs, conditions,
 * selectors, addresses and strings), so that editors parse the files portc parses, and the same way.
 * tests/editors.rs parses every stdlib and example file with it and checks that every keyword
 * and operator of ports.pest appears here.
 *
 * Differences, all on input that portc rejects anyway:
 * - `unknown_head` and the number lists after portless protocols exist in ports.pest only to
 *   report E0010 and E0011; here such specs are syntax errors, which editors show.
 * - Escapes other than \" \\ \n \t \u{...} parse as `invalid_escape` (portc: E0005).
 * - Ports above 65535 and malformed addresses parse; portc reports them (E0007, E0006).
 * - A reserved word after a dot in a qualified name (`a.tcp`) parses as a name.
 * And one on input that portc accepts: `in namespace` takes no comment between its two words.
 */

/* eslint-disable arrow-parens, camelcase */

const PORTED = ['tcp', 'udp', 'sctp'];
const PORTLESS = ['icmpv6', 'icmp', 'ipip', 'gre', 'esp', 'ah', 'vrrp'];

// The reserved words of ports.pest's `keyword` rule: never names.
// `pods`, `nodes`, `in` and `namespace` are words only inside `bind`, and are names elsewhere.
const RESERVED = [
  'module', 'source', 'use', 'as', 'flag', 'option', 'param', 'role',
  'external', 'group', 'service', 'note', 'never', 'set', 'bind',
  'when', 'local', 'management', 'self', 'true', 'false',
  ...PORTED, ...PORTLESS,
];

const NAME = /[A-Za-z_][A-Za-z0-9_]*/;

/**
 * One or more `rule`, separated by `sep`.
 * @param {RuleOrLiteral} rule
 * @param {string} sep
 * @returns {SeqRule}
 */
function sepBy1(rule, sep) {
  return seq(rule, repeat(seq(sep, rule)));
}

module.exports = grammar({
  name: 'ports',

  // The language is free-form: newlines are white space like any other.
  extras: $ => [/\s/, $.comment],

  word: $ => $.name,

  reserved: {
    global: _ => RESERVED,
  },

  // ports.pest decides these with lookahead past the next token, which an LR(1) parser has not:
  // after `tcp 80,` or `tcp`, a name is a param (as in `tcp 80, api_port`), unless what follows
  // makes it the start of the next spec or flow (`tcp 80, udp 53`, `tcp` then `a -> b` on the
  // next line). The parser tries both readings and keeps the one that parses; when both do, the
  // param wins (`prec.dynamic` on port_param), as it does in ports.pest.
  conflicts: $ => [
    [$.port_list],
    [$.ported_head],
  ],

  rules: {
    source_file: $ => repeat($._statement),

    _statement: $ => choice(
      $.module_decl, $.source_decl, $.use_decl,
      $.flag_decl, $.option_decl, $.param_decl,
      $.role_decl, $.external_decl, $.group_decl, $.service_decl, $.note_decl,
      $.never_decl, $.set_stmt, $.bind_stmt,
      $.flow,
    ),

    // ------------------------------------------------------------ statements

    module_decl: $ => seq('module', field('name', $.dotted_name), optional(field('title', $.string))),
    source_decl: $ => seq('source', field('document', $.string)),
    use_decl: $ => seq(
      'use',
      field('module', choice($.string, $.dotted_name)),
      optional($.use_alias),
    ),
    use_alias: $ => seq('as', field('name', $.name)),

    flag_decl: $ => seq('flag', field('name', $.name), repeat(choice($.string, $.flag_default))),
    flag_default: $ => seq('=', $.bool_lit),
    option_decl: $ => seq(
      'option', field('name', $.name), optional($.string), '=', $.choices,
      repeat(choice($.string, $.option_default)),
    ),
    choices: $ => sepBy1($.name, '|'),
    option_default: $ => seq('=', $.name),
    param_decl: $ => seq('param', field('name', $.name), repeat(choice($.string, $.param_default))),
    param_default: $ => seq('=', $.port_number),

    role_decl: $ => seq('role', field('name', $.name), optional($.string)),
    external_decl: $ => seq(
      'external', field('name', $.name), optional($.string),
      optional(seq('=', $.address_list)),
      optional($.string),
    ),
    group_decl: $ => seq(
      'group', field('name', $.name), optional($.string), '=', $.members, optional($.string),
    ),
    members: $ => sepBy1($.qualified_name, '|'),
    service_decl: $ => seq(
      'service', field('name', $.name), optional($.string), '=', $._spec_head, optional($.string),
    ),
    note_decl: $ => seq(
      'note', field('label', $.note_label), $.string,
      repeat(choice($.when_clause, $.local)),
    ),

    never_decl: $ => seq('never', $.flow),
    set_stmt: $ => seq('set', field('name', $.qualified_name), '=', $._set_value),
    _set_value: $ => choice($.bool_lit, $.port_number, $.qualified_name),
    bind_stmt: $ => seq(
      'bind', field('name', $.qualified_name), '=',
      choice($.selector, $.address_list),
    ),

    // ------------------------------------------------------------ flows

    flow: $ => seq(
      field('from', $.endpoints),
      $.arrow,
      field('to', $.endpoints),
      choice($.inline_body, $.block_body),
    ),
    arrow: _ => '->',
    endpoints: $ => sepBy1($._endpoint, '|'),
    _endpoint: $ => choice($.self, $.qualified_name),
    inline_body: $ => seq(':', sepBy1($.spec, ',')),
    block_body: $ => seq(repeat($._modifier), '{', repeat(seq($.spec, optional(','))), '}'),

    spec: $ => seq($._spec_head, repeat($._modifier)),
    _spec_head: $ => choice($.ported_head, $.portless_head, $.service_ref),
    ported_head: $ => seq(
      $.ported_protocol,
      repeat(seq('/', $._protocol)),
      optional($.port_list),
    ),
    portless_head: $ => seq($.portless_protocol, repeat(seq('/', $._protocol))),
    service_ref: $ => $.qualified_name,
    _protocol: $ => choice($.ported_protocol, $.portless_protocol),
    // Only a comma continues the list: in a block, a name on the next line is the next spec.
    port_list: $ => sepBy1($._port_item, ','),
    _port_item: $ => choice($.port_range, $.port_number, $.port_param),
    port_range: $ => seq($.port_number, '-', $.port_number),
    // A param used as a port; preferred to a service when both readings parse, as in ports.pest.
    port_param: $ => prec.dynamic(1, $.qualified_name),

    _modifier: $ => choice($.note_refs, $.when_clause, $.local, $.management, $.string),
    note_refs: $ => seq('[', sepBy1($.note_label, ','), ']'),
    when_clause: $ => seq('when', $._expr),

    // ------------------------------------------------------------ conditions

    // Operators bind from loose to tight: ||, &&, !, comparisons; && and || are n-ary.
    _expr: $ => choice($.or_expr, $._and_level),
    or_expr: $ => seq($._and_level, repeat1(seq('||', $._and_level))),
    _and_level: $ => choice($.and_expr, $._unary),
    and_expr: $ => seq($._unary, repeat1(seq('&&', $._unary))),
    _unary: $ => choice($.not_expr, $._atom),
    not_expr: $ => seq('!', $._unary),
    _atom: $ => choice($.paren_expr, $.comparison, $.bool_lit, $.qualified_name),
    paren_expr: $ => seq('(', $._expr, ')'),
    comparison: $ => seq(
      field('left', $.qualified_name),
      field('operator', choice('==', '!=')),
      field('right', choice($.bool_lit, $.qualified_name)),
    ),

    // ------------------------------------------------------------ bindings

    selector: $ => seq(
      $.selector_kind,
      '{',
      optional(seq(sepBy1($.label, ','), optional(','))),
      '}',
      optional($.namespace_clause),
    ),
    selector_kind: _ => choice('pods', 'nodes'),
    label: $ => seq(field('key', $._label_part), ':', field('value', $._label_part)),
    _label_part: $ => choice($.string, $.label_word),
    label_word: _ => /[A-Za-z0-9_.\/-]+/,
    // One token, so that after a selector a flow from a role named `in` still parses (`in -> b`),
    // as ports.pest's backtracking allows; `in` and `namespace` are names everywhere else.
    namespace_clause: $ => seq(
      alias(token(seq('in', /\s+/, 'namespace')), $.in_namespace),
      field('namespace', $._label_part),
    ),

    address_list: $ => sepBy1($.address, ','),
    // portc's address parser checks the text and gives the better message (E0006).
    address: _ => token(seq(/[0-9A-Fa-f:.]+/, optional(seq('/', /[0-9]+/)))),

    // ------------------------------------------------------------ tokens

    ported_protocol: _ => choice(...PORTED),
    portless_protocol: _ => choice(...PORTLESS),

    name: _ => NAME,
    // Names joined by dots, with no white space: `k8s.worker`.
    qualified_name: $ => seq($.name, repeat(seq(token.immediate('.'), alias(token.immediate(NAME), $.name)))),
    dotted_name: $ => seq($.name, repeat(seq(token.immediate('.'), alias(token.immediate(NAME), $.name)))),
    self: _ => 'self',
    local: _ => 'local',
    management: _ => 'management',
    bool_lit: _ => choice('true', 'false'),
    note_label: _ => /[0-9]+/,
    port_number: _ => /[0-9]+/,

    // A string is one line; the escapes are \" \\ \n \t and \u{...}.
    string: $ => seq(
      '"',
      repeat(choice($.string_content, $.escape_sequence, $.invalid_escape)),
      token.immediate('"'),
    ),
    string_content: _ => token.immediate(prec(1, /[^"\\\n]+/)),
    escape_sequence: _ => token.immediate(prec(2, seq('\\', choice(/["\\nt]/, /u\{[0-9A-Fa-f]{1,6}\}/)))),
    invalid_escape: _ => token.immediate(prec(1, seq('\\', /[^\n]/))),

    comment: _ => token(seq('#', /[^\n]*/)),
  },
});
