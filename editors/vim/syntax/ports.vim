" Vim syntax file
" Language:    ports, the network port requirements that portc compiles
" Filenames:   *.ports
"
" grammar/ports.pest is the source of truth; tests/editors.rs checks that every keyword and
" operator in it appears here, and editors/vim/test/run.lua checks the groups at chosen positions.
"
" When several items match at the same position, the one defined last wins: so errors come
" before what is valid, and short operators before the long ones that start with them.
" The address patterns use the backtracking engine (\%#=1), which is several times faster on
" them than the default NFA engine.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword a-z,A-Z,48-57,_

" ---------------------------------------------------------------- what starts no token
syn match portsIllegal /[^[:space:][:alnum:]_"#,:/=|!(){}[\]-]/

" ---------------------------------------------------------------- names
syn match portsName /\<\h\w*\%(\.\h\w*\)*/

" ---------------------------------------------------------------- operators and punctuation
syn match portsDelimiter /,/
syn match portsDelimiter /:/
syn match portsOperator /|/
" After `=`, `pods` and `nodes` may start a selector (see below).
syn match portsOperator /=/ nextgroup=portsSelectorKind skipwhite skipnl skipempty
syn match portsOperator /!/
syn match portsOperator /-/
syn match portsOperator +/+
syn match portsOperator /||/
syn match portsOperator /&&/
syn match portsOperator /==/
syn match portsOperator /!=/
syn match portsArrow /->/
syn match portsBrace /{/
syn match portsBrace /}/
syn match portsParen /(/
syn match portsParen /)/
" A `]` without its `[`.
syn match portsIllegal /\]/

" ---------------------------------------------------------------- numbers and addresses
" A port is 1 to 65535 (E0007); leading zeros are allowed.
syn match portsPortError /\<\d\+\>/
syn match portsPort /\<0*\%(6553[0-5]\|655[0-2]\d\|65[0-4]\d\d\|6[0-4]\d\{3}\|[1-5]\d\{4}\|[1-9]\d\{0,3}\)\>/
" Anything that looks like an address but is none (E0006): digits with dots, or two colons.
syn match portsAddressError /\%#=1\%([[:alnum:]_.:]\)\@<!\%(\d\x*[.:]\|\%(\x*:[[:xdigit:].]*:\)\@=\)[[:xdigit:]:.]*\%(\/\d*\)\=\%([[:alnum:]_.:/]\)\@!/
syn match portsAddress /\%#=1\%([[:alnum:]_.:]\)\@<!\%(25[0-5]\|2[0-4]\d\|1\d\d\|[1-9]\=\d\)\%(\.\%(25[0-5]\|2[0-4]\d\|1\d\d\|[1-9]\=\d\)\)\{3}\%(\/\%(3[0-2]\|[12]\=\d\)\)\=\%([[:alnum:]_.:/]\)\@!/
" IPv6, one form per pattern: the backtracking engine takes at most ten counted repeats in one.
let s:h = '\x\{1,4}'
let s:v4 = '\d\+\.\d\+\.\d\+\.\d\+'
for s:form in [
      \ '\%(' . s:h . ':\)\{7}' . s:h,
      \ '\%(' . s:h . ':\)\{6}' . s:v4,
      \ '\%(' . s:h . ':\)\{1,7}:',
      \ '\%(' . s:h . ':\)\{1,6}:' . s:h,
      \ '\%(' . s:h . ':\)\{1,5}\%(:' . s:h . '\)\{1,2}',
      \ '\%(' . s:h . ':\)\{1,4}\%(:' . s:h . '\)\{1,3}',
      \ '\%(' . s:h . ':\)\{1,3}\%(:' . s:h . '\)\{1,4}',
      \ '\%(' . s:h . ':\)\{1,2}\%(:' . s:h . '\)\{1,5}',
      \ s:h . ':\%(:' . s:h . '\)\{1,6}',
      \ ':\%(:' . s:h . '\)\{1,7}',
      \ '::',
      \ '\%(' . s:h . ':\)\{1,5}:\%(' . s:h . ':\)\{0,4}' . s:v4,
      \ '::\%(' . s:h . ':\)\{0,5}' . s:v4,
      \ ]
  exe 'syn match portsAddress /\%#=1\%([[:alnum:]_.:]\)\@<!' . s:form
        \ . '\%(\/\%(12[0-8]\|1[01]\d\|[1-9]\=\d\)\)\=\%([[:alnum:]_.:/]\)\@!/'
endfor
unlet s:h s:v4 s:form

" ---------------------------------------------------------------- keywords
" Whole words only: `roles` and `whenever` are names. What a keyword introduces is matched as
" its `nextgroup`, across white space and newlines, since the language is free-form.
let s:next = ' skipwhite skipnl skipempty'
exe 'syn match portsDeclaration /\<\%(flag\|option\|param\|role\|external\|group\|service\)\>/'
      \ . ' nextgroup=portsDeclName,portsReservedName' . s:next
exe 'syn match portsDeclaration /\<module\>/ nextgroup=portsModuleName' . s:next
syn match portsDeclaration /\<source\>/
exe 'syn match portsDeclaration /\<note\>/ nextgroup=portsNoteLabel' . s:next
exe 'syn match portsImport /\<use\>/ nextgroup=portsModuleName' . s:next
exe 'syn match portsImport /\<as\>/ nextgroup=portsDeclName,portsReservedName' . s:next
syn match portsStatement /\<never\>/
exe 'syn match portsStatement /\<set\>/ nextgroup=portsSetting,portsReservedName' . s:next
exe 'syn match portsStatement /\<bind\>/ nextgroup=portsEndpoint,portsReservedName' . s:next
syn match portsConditional /\<when\>/
syn match portsModifier /\<local\>/
syn match portsModifier /\<management\>/
syn match portsSelf /\<self\>/
syn match portsBoolean /\<\%(true\|false\)\>/
syn match portsProtocol /\<\%(tcp\|udp\|sctp\|icmpv6\|icmp\|ipip\|gre\|esp\|ah\|vrrp\)\>/
exe 'syn match portsNamespace /\<in\s\+namespace\>/ nextgroup=portsLabelWord' . s:next

" ---------------------------------------------------------------- what keywords introduce
syn match portsModuleName /\h\w*\%(\.\h\w*\)*/ contained
syn match portsDeclName /\h\w*/ contained
syn match portsNoteLabel /\d\+\>/ contained
syn match portsSetting /\h\w*\%(\.\h\w*\)*/ contained
" A reserved word where a name is wanted (E0001).
syn match portsReservedName /\<\%(module\|source\|use\|as\|flag\|option\|param\|role\|external\|group\|service\|note\|never\|set\|bind\|when\|local\|management\|self\|true\|false\|tcp\|udp\|sctp\|icmpv6\|icmp\|ipip\|gre\|esp\|ah\|vrrp\)\>/ contained

" ---------------------------------------------------------------- flows: a | b -> c | self
" Before the arrow: names that a union and `->` follow on the same line.
syn match portsEndpoint /\<\h\w*\%(\.\h\w*\)*\ze\%(\s*|\s*\h\w*\%(\.\h\w*\)*\)*\s*->/
" After the arrow: a chain of names and `|`, which may span lines.
exe 'syn match portsArrow /->/ nextgroup=portsEndpoint,portsSelf' . s:next
exe 'syn match portsEndpoint /\<\%(self\>\)\@!\h\w*\%(\.\h\w*\)*/ contained nextgroup=portsUnion' . s:next
exe 'syn match portsUnion /|/ contained nextgroup=portsEndpoint,portsSelf' . s:next

" ---------------------------------------------------------------- note references: [3], [3, 5]
syn region portsNoteRef matchgroup=portsBracket start=/\[/ end=/\]/ contains=portsNoteRefLabel,portsDelimiter,portsComment,portsIllegal
syn match portsNoteRefLabel /\<\d\+\>/ contained

" ---------------------------------------------------------------- selectors: = pods { app: api }
" `pods` and `nodes` are words only after the `=` of a `bind`, before `{`.
exe 'syn match portsSelectorKind /\<\%(pods\|nodes\)\>\ze\_s*{/ contained nextgroup=portsSelector' . s:next
syn region portsSelector matchgroup=portsBrace start=/{/ end=/}/ contained contains=portsString,portsStringError,portsLabelKey,portsLabelWord,portsDelimiter,portsComment,portsIllegal
syn match portsLabelWord /[[:alnum:]_./-]\+/ contained
syn match portsLabelKey /[[:alnum:]_./-]\+\ze\s*:/ contained
unlet s:next

" ---------------------------------------------------------------- strings and comments
" A string is one line; the escapes are \" \\ \n \t and \u{...} (others are E0005).
syn region portsString start=/"/ skip=/\\\\\|\\"/ end=/"/ end=/$/ oneline contains=portsEscapeError,portsEscape
syn match portsEscapeError /\\./ contained
syn match portsEscape /\\\%(["\\nt]\|u{\x\{1,6}}\)/ contained
" A string still open at the end of its line (E0001).
syn match portsStringError /"\%([^"\\]\|\\.\)*\\\=$/

syn keyword portsTodo TODO FIXME XXX contained
syn match portsComment /#.*$/ contains=portsTodo,@Spell

" ---------------------------------------------------------------- colours
hi def link portsComment       Comment
hi def link portsTodo          Todo
hi def link portsString        String
hi def link portsEscape        SpecialChar
hi def link portsDeclaration   Structure
hi def link portsImport        Include
hi def link portsStatement     Statement
hi def link portsConditional   Conditional
hi def link portsModifier      StorageClass
hi def link portsSelf          Special
hi def link portsBoolean       Boolean
hi def link portsProtocol      Type
hi def link portsSelectorKind  Keyword
hi def link portsNamespace     Keyword
hi def link portsModuleName    Identifier
hi def link portsSetting       Identifier
hi def link portsDeclName      Function
hi def link portsEndpoint      Identifier
hi def link portsNoteLabel     Label
hi def link portsNoteRefLabel  Label
hi def link portsBracket       Delimiter
hi def link portsLabelKey      Identifier
hi def link portsLabelWord     String
hi def link portsPort          Number
hi def link portsAddress       Number
hi def link portsArrow         Operator
hi def link portsUnion         Operator
hi def link portsOperator      Operator
hi def link portsDelimiter     Delimiter
hi def link portsBrace         Delimiter
hi def link portsParen         Delimiter
hi def link portsIllegal       Error
hi def link portsPortError     Error
hi def link portsAddressError  Error
hi def link portsEscapeError   Error
hi def link portsStringError   Error
hi def link portsReservedName  Error
" portsName (other names: services, params, flags, options, choices) keeps the normal colour.

let b:current_syntax = 'ports'

let &cpo = s:cpo_save
unlet s:cpo_save
