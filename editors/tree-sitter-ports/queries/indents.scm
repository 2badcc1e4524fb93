; Indentation inside blocks and selectors (Neovim's nvim-treesitter conventions).
[
  (block_body)
  (selector)
] @indent.begin

"}" @indent.branch @indent.end
