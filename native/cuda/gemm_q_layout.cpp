// gemm_q_layout.cpp — placeholder while the layout is being written.
