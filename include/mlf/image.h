/*
 * JPEG and PNG images through libjpeg-turbo and libpng.
 *
 * Decoding always reads the whole image, so a truncated or corrupt file is
 * an error, not a half-black picture.  Pixel buffers returned are allocated
 * (8-bit RGB, row-major, no padding) and freed by the caller with free().
 * Saving writes through a temporary file and renames (crash-safe).
 */
#ifndef MLF_IMAGE_H
#define MLF_IMAGE_H

#include "mlf/error.h"

enum mlf_image_format {
	MLF_IMAGE_UNKNOWN = 0,
	MLF_IMAGE_JPEG,
	MLF_IMAGE_PNG,
};

struct mlf_image_info {
	enum mlf_image_format format;  /* from the file's magic bytes, not its name */
	int width, height;
	int channels;                  /* as stored: 1 grey, 3 RGB, 4 RGBA, ... */
};

/* Largest width or height accepted: bigger files are refused before allocating. */
#define MLF_IMAGE_MAX_SIDE 32768

/* Format from the first bytes of a file; MLF_IMAGE_UNKNOWN when neither. */
enum mlf_image_format mlf_image_sniff(const char *path);
const char *mlf_image_format_name(enum mlf_image_format f);  /* "jpeg", "png", "unknown" */

/* Decode the whole image to check it and report its size (status 65 when corrupt). */
int mlf_image_probe(const char *path, struct mlf_image_info *info, struct mlf_error *err);
/* Decode to RGB (grey and alpha converted; EXIF orientation is not applied). */
int mlf_image_load_rgb(const char *path, unsigned char **rgb, int *width, int *height,
		       struct mlf_error *err);
int mlf_image_save_jpeg(const char *path, const unsigned char *rgb, int width, int height,
			int quality, struct mlf_error *err);
int mlf_image_save_png(const char *path, const unsigned char *rgb, int width, int height,
		       struct mlf_error *err);

#endif
