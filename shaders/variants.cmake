# Every SPIR-V variant: rv_shader(NAME SOURCE DEFINES...). The runtime's
# pipeline table (runtime/gpu/rv_pipelines.h) refers to these names.
# The presenter's composite pass (runtime/gpu/present.c, not the engine's ops)
rv_shader(composite composite.comp)
foreach(op gemm attn norm unary binary geglu upsample concat temb rgba)
  rv_shader(${op}_f32 ${op}.comp)
  rv_shader(${op}_f16 ${op}.comp RV_F16)
endforeach()
rv_shader(conv_f32 gemm.comp CONV)
rv_shader(conv_f16 gemm.comp CONV RV_F16)
rv_shader(dconv_f32 dconv.comp)
rv_shader(dconv_f16 dconv.comp RV_F16)
rv_shader(dattn_f32 dattn.comp)
rv_shader(dattn_f16 dattn.comp RV_F16)
# Model-support ops: embedding gather, nearest resize, zero pad, row softmax,
# affine warp (camera motion of a latent), the non-finite check.
foreach(op embed resize pad softmax warp finite)
  rv_shader(${op}_f32 ${op}.comp)
  rv_shader(${op}_f16 ${op}.comp RV_F16)
endforeach()
