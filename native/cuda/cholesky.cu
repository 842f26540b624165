// placeholder while the kernels are being written
