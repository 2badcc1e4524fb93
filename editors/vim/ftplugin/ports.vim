" Filetype plugin for .ports files: comments run from # to the end of the line.
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal comments=:#
setlocal commentstring=#\ %s
" Comments wrap when formatted; `gq` keeps the leader.
setlocal formatoptions-=t formatoptions+=croql
" Names, including the dots of qualified names (`rancher.downstream.custom`), for `*` and completion.
setlocal iskeyword=a-z,A-Z,48-57,_

let b:undo_ftplugin = 'setlocal comments< commentstring< formatoptions< iskeyword<'
