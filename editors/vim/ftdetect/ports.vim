" .ports files: network port requirements for portc.
autocmd BufNewFile,BufRead *.ports setfiletype ports
