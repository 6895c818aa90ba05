"""The published configurations of the three models the workflow uses, and their published parameter counts.

Each config mirrors a config.json of the model's hub repository, without the bookkeeping keys (`_class_name`,
`_diffusers_version`, `_name_or_path`, `architectures`, `torch_dtype`, `transformers_version`), and for the
schedulers without the legacy keys the installed scheduler class no longer takes (`clip_sample`,
`set_alpha_to_one`, `skip_prk_steps`, `sample_max_value`). Each parameter count is that of the published
checkpoint's weights, as counted by others who loaded it (the comments say where the figures come from).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Component:
    """A model of a pipeline: its folder in the hub repository, the class that loads it, its config."""

    subfolder: str
    library: str  # "diffusers" or "transformers": the model_index.json entry, and where the class lives
    class_name: str
    config: dict = field(repr=False)
    published_parameters: int


@dataclass(frozen=True)
class PipelineLayout:
    """A diffusers pipeline's hub repository: its weighted components and the rest of model_index.json."""

    pipeline_class: str
    components: tuple[Component, ...]
    scheduler_class: str
    scheduler_config: dict
    # model_index.json entries for the parts without weights (tokenizers, image processor), and the pipeline's own
    # registered settings
    other_entries: dict


# ---------------------------------------------------------------------------------------------------------------
# facebook/musicgen-small: one MusicgenForConditionalGeneration, its three sub-configs nested in config.json.

# facebook/musicgen-small config.json "text_encoder" (t5-base's encoder)
MUSICGEN_TEXT_ENCODER = {
    "vocab_size": 32128, "d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12, "num_decoder_layers": 12,
    "num_heads": 12, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
    "dropout_rate": 0.1, "layer_norm_epsilon": 1e-6, "initializer_factor": 1.0, "feed_forward_proj": "relu",
    "n_positions": 512, "is_encoder_decoder": True, "pad_token_id": 0, "eos_token_id": 1,
    "decoder_start_token_id": 0,
}
# facebook/musicgen-small config.json "audio_encoder" (facebook/encodec_32khz: the settings transformers' EnCodec
# conversion script gives encodec_32khz on top of the 24 kHz defaults, written out in full here)
MUSICGEN_AUDIO_ENCODER = {
    "sampling_rate": 32000, "audio_channels": 1, "normalize": False, "chunk_length_s": None, "overlap": None,
    "hidden_size": 128, "num_filters": 64, "num_residual_layers": 1, "upsampling_ratios": [8, 5, 4, 4],
    "norm_type": "weight_norm", "kernel_size": 7, "last_kernel_size": 7, "residual_kernel_size": 3,
    "dilation_growth_rate": 2, "use_causal_conv": False, "pad_mode": "reflect", "compress": 2, "num_lstm_layers": 2,
    "trim_right_ratio": 1.0, "codebook_size": 2048, "codebook_dim": 128, "use_conv_shortcut": False,
    # 4 codebooks of 11 bits at 50 frames per second
    "target_bandwidths": [2.2],
}
# facebook/musicgen-small config.json "decoder"
MUSICGEN_DECODER = {
    "vocab_size": 2048, "max_position_embeddings": 2048, "num_hidden_layers": 24, "ffn_dim": 4096,
    "num_attention_heads": 16, "layerdrop": 0.0, "use_cache": True, "activation_function": "gelu",
    "hidden_size": 1024, "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0,
    "initializer_factor": 0.02, "scale_embedding": False, "num_codebooks": 4, "tie_word_embeddings": False,
    "pad_token_id": 2048, "bos_token_id": 2048,
}
# Parameters of facebook/musicgen-small model.safetensors as loaded by MusicgenForConditionalGeneration, per
# submodel (a published per-module count of the loaded checkpoint; the T5 figure is also t5-base's encoder size in
# the T5 model tables). The decoder includes its 4 LM heads; the total adds the 768 -> 1024 projection from the
# text encoder to the decoder (787,456). EnCodec's codebooks are buffers, not parameters, and are not counted.
MUSICGEN_PUBLISHED_PARAMETERS = {
    "text_encoder": 109_628_544,
    "audio_encoder": 56_884_674,
    "decoder": 419_584_000,
    "total": 586_884_674,
}

# ---------------------------------------------------------------------------------------------------------------
# stabilityai/sdxl-turbo

# stabilityai/sdxl-turbo unet/config.json (SDXL's UNet; sample_size 64 as sdxl-turbo makes 512x512 images)
SDXL_UNET = {
    "sample_size": 64, "in_channels": 4, "out_channels": 4, "center_input_sample": False, "flip_sin_to_cos": True,
    "freq_shift": 0, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "only_cross_attention": False, "block_out_channels": [320, 640, 1280], "layers_per_block": 2,
    "downsample_padding": 1, "mid_block_scale_factor": 1, "act_fn": "silu", "norm_num_groups": 32, "norm_eps": 1e-5,
    "cross_attention_dim": 2048, "transformer_layers_per_block": [1, 2, 10], "encoder_hid_dim": None,
    "encoder_hid_dim_type": None, "attention_head_dim": [5, 10, 20], "num_attention_heads": None,
    "dual_cross_attention": False, "use_linear_projection": True, "class_embed_type": None,
    "addition_embed_type": "text_time", "addition_time_embed_dim": 256, "addition_embed_type_num_heads": 64,
    "num_class_embeds": None, "upcast_attention": None, "resnet_time_scale_shift": "default",
    "resnet_skip_time_act": False, "resnet_out_scale_factor": 1.0, "time_embedding_type": "positional",
    "time_embedding_dim": None, "time_embedding_act_fn": None, "timestep_post_act": None, "time_cond_proj_dim": None,
    "conv_in_kernel": 3, "conv_out_kernel": 3,
    # 6 micro-conditioning numbers (original size, crop, target size) x 256, plus the pooled 1280-d text embedding
    "projection_class_embeddings_input_dim": 2816,
    "class_embeddings_concat": False, "mid_block_only_cross_attention": None, "cross_attention_norm": None,
}
# stabilityai/sdxl-turbo vae/config.json (the SDXL VAE; sample_size only sets the tile of tiled decoding)
SDXL_VAE = {
    "in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4, "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
    "act_fn": "silu", "latent_channels": 4, "norm_num_groups": 32, "sample_size": 1024, "scaling_factor": 0.13025,
    "force_upcast": True,
}
# stabilityai/sdxl-turbo text_encoder/config.json (OpenAI CLIP ViT-L/14's text tower). The special token ids are
# the hub's legacy ones: eos_token_id 2 makes CLIP pool at the highest token id, which is the end-of-text token.
SDXL_TEXT_ENCODER = {
    "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "projection_dim": 768,
    "num_hidden_layers": 12, "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5, "attention_dropout": 0.0, "dropout": 0.0, "initializer_range": 0.02,
    "initializer_factor": 1.0, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
}
# stabilityai/sdxl-turbo text_encoder_2/config.json (OpenCLIP ViT-bigG/14's text tower, with its projection)
SDXL_TEXT_ENCODER_2 = {
    "vocab_size": 49408, "hidden_size": 1280, "intermediate_size": 5120, "projection_dim": 1280,
    "num_hidden_layers": 32, "num_attention_heads": 20, "max_position_embeddings": 77, "hidden_act": "gelu",
    "layer_norm_eps": 1e-5, "attention_dropout": 0.0, "dropout": 0.0, "initializer_range": 0.02,
    "initializer_factor": 1.0, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
}
# stabilityai/sdxl-turbo scheduler/scheduler_config.json
SDXL_SCHEDULER = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "trained_betas": None, "prediction_type": "epsilon", "timestep_spacing": "trailing", "steps_offset": 1,
}

SDXL_TURBO = PipelineLayout(
    # stabilityai/sdxl-turbo model_index.json
    pipeline_class="StableDiffusionXLPipeline",
    components=(
        # Parameter counts of stabilityai/stable-diffusion-xl-base-1.0's components, which sdxl-turbo shares in
        # architecture (per-component counts of the loaded checkpoints, as reported in several public write-ups;
        # the CLIP text towers are also OpenCLIP's model profile figures: ViT-L/14 text 123.65 M with its
        # 768x768 projection, which CLIPTextModel does not hold, and ViT-bigG/14 text 694.66 M).
        Component("unet", "diffusers", "UNet2DConditionModel", SDXL_UNET, 2_567_463_684),
        Component("vae", "diffusers", "AutoencoderKL", SDXL_VAE, 83_653_863),
        Component("text_encoder", "transformers", "CLIPTextModel", SDXL_TEXT_ENCODER, 123_060_480),
        Component("text_encoder_2", "transformers", "CLIPTextModelWithProjection", SDXL_TEXT_ENCODER_2,
                  694_659_840),
    ),
    scheduler_class="EulerAncestralDiscreteScheduler",
    scheduler_config=SDXL_SCHEDULER,
    other_entries={
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "image_encoder": [None, None],
        "feature_extractor": [None, None],
        "force_zeros_for_empty_prompt": True,
    },
)

# ---------------------------------------------------------------------------------------------------------------
# stabilityai/stable-video-diffusion-img2vid

# stabilityai/stable-video-diffusion-img2vid unet/config.json (img2vid: 14 frames; the -xt model has 25)
SVD_UNET = {
    "sample_size": 96, "in_channels": 8, "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal",
                         "CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"],
    "up_block_types": ["UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal",
                       "CrossAttnUpBlockSpatioTemporal"],
    "block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2, "cross_attention_dim": 1024,
    "transformer_layers_per_block": 1, "num_attention_heads": [5, 10, 20, 20], "num_frames": 14,
    # fps, motion bucket and noise augmentation strength, each embedded in 256 numbers
    "addition_time_embed_dim": 256, "projection_class_embeddings_input_dim": 768,
}
# stabilityai/stable-video-diffusion-img2vid vae/config.json
SVD_VAE = {
    "in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "latent_channels": 4, "sample_size": 768,
    "scaling_factor": 0.18215, "force_upcast": True,
}
# stabilityai/stable-video-diffusion-img2vid image_encoder/config.json (OpenCLIP ViT-H/14's image tower)
SVD_IMAGE_ENCODER = {
    "hidden_size": 1280, "intermediate_size": 5120, "projection_dim": 1024, "num_hidden_layers": 32,
    "num_attention_heads": 16, "num_channels": 3, "image_size": 224, "patch_size": 14, "hidden_act": "gelu",
    "layer_norm_eps": 1e-5, "attention_dropout": 0.0, "dropout": 0.0, "initializer_range": 0.02,
    "initializer_factor": 1.0,
}
# stabilityai/stable-video-diffusion-img2vid feature_extractor/preprocessor_config.json (CLIP's preprocessing)
SVD_FEATURE_EXTRACTOR = {
    "do_resize": True, "size": {"shortest_edge": 224}, "resample": 3, "do_center_crop": True,
    "crop_size": {"height": 224, "width": 224}, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "do_convert_rgb": True,
}
# stabilityai/stable-video-diffusion-img2vid scheduler/scheduler_config.json: EDM sampling, Karras sigmas between
# 0.002 and 700, v-prediction, the UNet conditioned on the (continuous) noise level
SVD_SCHEDULER = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "trained_betas": None, "prediction_type": "v_prediction", "interpolation_type": "linear",
    "use_karras_sigmas": True, "sigma_min": 0.002, "sigma_max": 700.0, "timestep_spacing": "leading",
    "timestep_type": "continuous", "steps_offset": 1,
}

SVD_IMG2VID = PipelineLayout(
    # stabilityai/stable-video-diffusion-img2vid model_index.json
    pipeline_class="StableVideoDiffusionPipeline",
    components=(
        # Per-component counts of the released SVD checkpoint, as tabulated in public work that fine-tunes it
        # (the VAE as encoder 34,163,592 + decoder 63,579,183 + the 8x8 quant_conv 72); the image encoder is also
        # OpenCLIP's model profile figure for ViT-H/14's image tower (632.08 M).
        Component("unet", "diffusers", "UNetSpatioTemporalConditionModel", SVD_UNET, 1_524_623_082),
        Component("vae", "diffusers", "AutoencoderKLTemporalDecoder", SVD_VAE, 97_742_847),
        Component("image_encoder", "transformers", "CLIPVisionModelWithProjection", SVD_IMAGE_ENCODER, 632_076_800),
    ),
    scheduler_class="EulerDiscreteScheduler",
    scheduler_config=SVD_SCHEDULER,
    other_entries={"feature_extractor": ["transformers", "CLIPImageProcessor"]},
)

PIPELINE_LAYOUTS = {"sdxl": SDXL_TURBO, "svd": SVD_IMG2VID}
