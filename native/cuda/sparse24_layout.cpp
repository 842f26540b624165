// sparse24_layout.cpp — placeholder while the layout is being written.
