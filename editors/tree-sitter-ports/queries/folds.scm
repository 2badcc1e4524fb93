; Blocks and selectors fold.
[
  (block_body)
  (selector)
] @fold
