#include "mlf/data.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "mlf/base.h"

static const unsigned char PNG_MAGIC[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

static enum mlf_image_format sniff_bytes(const unsigned char *b, size_t n)
{
	if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return MLF_IMAGE_JPEG;
	if (n >= 8 && !memcmp(b, PNG_MAGIC, 8))
		return MLF_IMAGE_PNG;
	return MLF_IMAGE_UNKNOWN;
}

enum mlf_image_format mlf_image_sniff(const char *path)
{
	unsigned char b[8];
	FILE *f = fopen(path, "rb");
	if (!f)
		return MLF_IMAGE_UNKNOWN;
	size_t n = fread(b, 1, sizeof(b), f);
	fclose(f);
	return sniff_bytes(b, n);
}

const char *mlf_image_format_name(enum mlf_image_format f)
{
	switch (f) {
	case MLF_IMAGE_JPEG: return "jpeg";
	case MLF_IMAGE_PNG: return "png";
	default: return "unknown";
	}
}

static FILE *open_image(const char *path, enum mlf_image_format *fmt, struct mlf_error *err)
{
	unsigned char b[8];
	FILE *f = fopen(path, "rb");
	if (!f) {
		mlf_fail_errno(err, errno == ENOENT || errno == ENOTDIR ? MLF_EX_NOINPUT : MLF_EX_IOERR,
			       "cannot open image '%s'", path);
		return NULL;
	}
	size_t n = fread(b, 1, sizeof(b), f);
	if (ferror(f)) {
		mlf_fail_errno(err, MLF_EX_IOERR, "cannot read image '%s'", path);
		fclose(f);
		return NULL;
	}
	*fmt = sniff_bytes(b, n);
	if (*fmt == MLF_IMAGE_UNKNOWN) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a JPEG or PNG image (%s)", path,
			 n ? "unknown signature" : "empty file");
		fclose(f);
		return NULL;
	}
	rewind(f);
	return f;
}

static int check_size(const char *path, const char *what, unsigned long w, unsigned long h,
		      struct mlf_error *err)
{
	if (w == 0 || h == 0)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid %s image: it is %lux%lu",
				path, what, w, h);
	if (w > MLF_IMAGE_MAX_SIDE || h > MLF_IMAGE_MAX_SIDE)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is %lux%lu, larger than the %d pixels per "
				"side this tool accepts", path, w, h, MLF_IMAGE_MAX_SIDE);
	return 0;
}

static unsigned char *alloc_rgb(const char *path, int w, int h, struct mlf_error *err)
{
	unsigned char *p = malloc((size_t)w * (size_t)h * 3);
	if (!p)
		mlf_fail(err, MLF_EX_SOFTWARE, "out of memory decoding '%s' (%dx%d)", path, w, h);
	return p;
}

/* ---- JPEG ---------------------------------------------------------------- */

/*
 * libjpeg calls exit() on errors unless error_exit is replaced; we longjmp
 * back instead.  It only warns on a truncated or corrupt entropy stream (and
 * paints the rest grey); those warnings are errors here.
 */
struct jpeg_err {
	struct jpeg_error_mgr mgr;
	jmp_buf jmp;
	char msg[JMSG_LENGTH_MAX];
	int corrupt;
};

static void jpeg_on_error(j_common_ptr cinfo)
{
	struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jmp, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
	struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
	if (level != -1 || e->corrupt)
		return;
	switch (cinfo->err->msg_code) {
	case JWRN_JPEG_EOF:
	case JWRN_HIT_MARKER:
	case JWRN_HUFF_BAD_CODE:
	case JWRN_MUST_RESYNC:
		e->corrupt = 1;
		(*cinfo->err->format_message)(cinfo, e->msg);
		break;
	default:
		break;  /* e.g. stray bytes before a marker: harmless, common */
	}
}

/* Heap-held so nothing set after setjmp lives in a non-volatile local. */
struct jpeg_dec {
	struct jpeg_decompress_struct cinfo;
	struct jpeg_err jerr;
	unsigned char *row;
	unsigned char *rgb;
};

static void cmyk_to_rgb(const unsigned char *in, unsigned char *out, unsigned w, int inverted)
{
	for (unsigned x = 0; x < w; x++, in += 4, out += 3) {
		unsigned c = in[0], m = in[1], y = in[2], k = in[3];
		if (!inverted) {
			c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k;
		}
		/* inverted (Adobe) values are 255 - ink: channel = (255-ink)(255-k)/255 */
		out[0] = (unsigned char)((c * k + 127) / 255);
		out[1] = (unsigned char)((m * k + 127) / 255);
		out[2] = (unsigned char)((y * k + 127) / 255);
	}
}

static int jpeg_decode(const char *path, FILE *f, int want_rgb, struct mlf_image_info *info,
		       unsigned char **rgb, struct mlf_error *err)
{
	struct jpeg_dec *d = mlf_xcalloc(1, sizeof(*d));
	struct jpeg_decompress_struct *ci = &d->cinfo;
	int rc = -1;

	ci->err = jpeg_std_error(&d->jerr.mgr);
	d->jerr.mgr.error_exit = jpeg_on_error;
	d->jerr.mgr.emit_message = jpeg_on_message;
	if (setjmp(d->jerr.jmp)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid JPEG image: %s", path, d->jerr.msg);
		goto out;
	}
	jpeg_create_decompress(ci);
	jpeg_stdio_src(ci, f);
	jpeg_read_header(ci, TRUE);
	if (check_size(path, "JPEG", ci->image_width, ci->image_height, err))
		goto out;
	info->format = MLF_IMAGE_JPEG;
	info->width = (int)ci->image_width;
	info->height = (int)ci->image_height;
	info->channels = ci->num_components;

	int cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
	if (want_rgb) {
		ci->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
	} else {
		/* Checking only: at 1/8 scale every entropy-coded bit is still
		 * decoded (so damage is found), but the inverse DCT is trivial. */
		ci->scale_num = 1;
		ci->scale_denom = 8;
		ci->dct_method = JDCT_IFAST;
		ci->do_fancy_upsampling = FALSE;
	}
	jpeg_start_decompress(ci);
	size_t stride = (size_t)ci->output_width * (size_t)ci->output_components;
	d->row = mlf_xmalloc(stride);
	if (want_rgb && !(d->rgb = alloc_rgb(path, info->width, info->height, err)))
		goto out;
	while (ci->output_scanline < ci->output_height) {
		unsigned y = ci->output_scanline;
		JSAMPROW r = d->row;
		if (want_rgb && !cmyk)
			r = d->rgb + (size_t)y * ci->output_width * 3;
		jpeg_read_scanlines(ci, &r, 1);
		if (want_rgb && cmyk)
			cmyk_to_rgb(d->row, d->rgb + (size_t)y * ci->output_width * 3,
				    ci->output_width, ci->saw_Adobe_marker);
		if (d->jerr.corrupt)
			break;
	}
	if (!d->jerr.corrupt)
		jpeg_finish_decompress(ci);
	if (d->jerr.corrupt) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid JPEG image: %s", path, d->jerr.msg);
		goto out;
	}
	if (want_rgb) {
		*rgb = d->rgb;
		d->rgb = NULL;
	}
	rc = 0;
out:
	jpeg_destroy_decompress(ci);
	free(d->row);
	free(d->rgb);
	free(d);
	return rc;
}

/* ---- PNG ----------------------------------------------------------------- */

struct png_dec {
	jmp_buf jmp;
	char msg[256];
	png_structp png;
	png_infop info;
	unsigned char *row;
	unsigned char *rgb;
};

static void png_on_error(png_structp png, png_const_charp msg)
{
	struct png_dec *d = png_get_error_ptr(png);
	snprintf(d->msg, sizeof(d->msg), "%s", msg);
	longjmp(d->jmp, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png;  /* ancillary-chunk complaints (bad iCCP, ...) do not hurt the pixels */
	(void)msg;
}

/* Bytes 16..23 of a PNG are IHDR's width and height: refuse huge ones before libpng. */
static int png_peek_size(const char *path, FILE *f, struct mlf_error *err)
{
	unsigned char b[24];
	size_t n = fread(b, 1, sizeof(b), f);
	rewind(f);
	if (n < sizeof(b) || memcmp(b + 12, "IHDR", 4))
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid PNG image: no IHDR chunk "
				"at the start", path);
	unsigned long w = (unsigned long)b[16] << 24 | (unsigned long)b[17] << 16 |
			  (unsigned long)b[18] << 8 | b[19];
	unsigned long h = (unsigned long)b[20] << 24 | (unsigned long)b[21] << 16 |
			  (unsigned long)b[22] << 8 | b[23];
	return check_size(path, "PNG", w, h, err);
}

static int png_decode(const char *path, FILE *f, int want_rgb, struct mlf_image_info *info,
		      unsigned char **rgb, struct mlf_error *err)
{
	if (png_peek_size(path, f, err))
		return -1;
	struct png_dec *d = mlf_xcalloc(1, sizeof(*d));
	int rc = -1;

	d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_on_error, png_on_warning);
	if (!d->png || !(d->info = png_create_info_struct(d->png))) {
		mlf_fail(err, MLF_EX_SOFTWARE, "cannot start decoding '%s': out of memory", path);
		goto out;
	}
	if (setjmp(d->jmp)) {
		if (feof(f))  /* libpng only says "Read Error" */
			mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid PNG image: the file ends "
				 "early (truncated?)", path);
		else
			mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid PNG image: %s", path, d->msg);
		goto out;
	}
	png_set_user_limits(d->png, MLF_IMAGE_MAX_SIDE, MLF_IMAGE_MAX_SIDE);
	png_init_io(d->png, f);
	png_read_info(d->png, d->info);
	png_uint_32 w = png_get_image_width(d->png, d->info);
	png_uint_32 h = png_get_image_height(d->png, d->info);
	if (check_size(path, "PNG", w, h, err))
		goto out;
	info->format = MLF_IMAGE_PNG;
	info->width = (int)w;
	info->height = (int)h;
	info->channels = png_get_channels(d->png, d->info);

	int passes = png_set_interlace_handling(d->png);
	if (want_rgb) {
		int ct = png_get_color_type(d->png, d->info);
		png_set_expand(d->png);          /* palette, grey < 8 bits, tRNS */
		png_set_strip_16(d->png);
		png_set_strip_alpha(d->png);     /* as OpenCV's imread(IMREAD_COLOR) does */
		if (!(ct & PNG_COLOR_MASK_COLOR))
			png_set_gray_to_rgb(d->png);
	}
	png_read_update_info(d->png, d->info);
	if (want_rgb) {
		if (png_get_rowbytes(d->png, d->info) != (size_t)w * 3) {
			mlf_fail(err, MLF_EX_SOFTWARE, "'%s': PNG did not convert to 8-bit RGB", path);
			goto out;
		}
		if (!(d->rgb = alloc_rgb(path, info->width, info->height, err)))
			goto out;
	} else {
		d->row = mlf_xmalloc(png_get_rowbytes(d->png, d->info));
	}
	for (int p = 0; p < passes; p++)
		for (png_uint_32 y = 0; y < h; y++)
			png_read_row(d->png, want_rgb ? d->rgb + (size_t)y * w * 3 : d->row, NULL);
	png_read_end(d->png, NULL);
	if (want_rgb) {
		*rgb = d->rgb;
		d->rgb = NULL;
	}
	rc = 0;
out:
	png_destroy_read_struct(d->png ? &d->png : NULL, d->info ? &d->info : NULL, NULL);
	free(d->row);
	free(d->rgb);
	free(d);
	return rc;
}

/* ---- decoding entry points ------------------------------------------------ */

static int decode(const char *path, int want_rgb, struct mlf_image_info *info,
		  unsigned char **rgb, struct mlf_error *err)
{
	enum mlf_image_format fmt;
	FILE *f = open_image(path, &fmt, err);
	if (!f)
		return -1;
	int rc = fmt == MLF_IMAGE_JPEG ? jpeg_decode(path, f, want_rgb, info, rgb, err)
				       : png_decode(path, f, want_rgb, info, rgb, err);
	if (!rc && ferror(f))
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot read image '%s'", path);
	fclose(f);
	return rc;
}

int mlf_image_probe(const char *path, struct mlf_image_info *info, struct mlf_error *err)
{
	struct mlf_image_info tmp;
	memset(&tmp, 0, sizeof(tmp));
	if (decode(path, 0, &tmp, NULL, err))
		return -1;
	if (info)
		*info = tmp;
	return 0;
}

int mlf_image_load_rgb(const char *path, unsigned char **rgb, int *width, int *height,
		       struct mlf_error *err)
{
	struct mlf_image_info info;
	unsigned char *px = NULL;
	memset(&info, 0, sizeof(info));
	if (decode(path, 1, &info, &px, err))
		return -1;
	*rgb = px;
	if (width)
		*width = info.width;
	if (height)
		*height = info.height;
	return 0;
}

/* ---- encoding: through a temporary file beside the target ----------------- */

static int check_pixels(const char *path, const unsigned char *rgb, int w, int h,
			struct mlf_error *err)
{
	if (!rgb || w <= 0 || h <= 0 || w > MLF_IMAGE_MAX_SIDE || h > MLF_IMAGE_MAX_SIDE)
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot save '%s': bad image %dx%d", path, w, h);
	return 0;
}

struct jpeg_enc {
	struct jpeg_compress_struct cinfo;
	struct jpeg_err jerr;
};

int mlf_image_save_jpeg(const char *path, const unsigned char *rgb, int width, int height,
			int quality, struct mlf_error *err)
{
	if (check_pixels(path, rgb, width, height, err))
		return -1;
	char *tmp;
	FILE *f = mlf_atomic_fopen(path, &tmp, err);
	if (!f)
		return -1;
	struct jpeg_enc *e = mlf_xcalloc(1, sizeof(*e));
	struct jpeg_compress_struct *ci = &e->cinfo;
	int failed = 0;

	ci->err = jpeg_std_error(&e->jerr.mgr);
	e->jerr.mgr.error_exit = jpeg_on_error;
	if (setjmp(e->jerr.jmp)) {
		mlf_fail(err, MLF_EX_IOERR, "cannot write JPEG '%s': %s", path, e->jerr.msg);
		failed = 1;
		goto out;
	}
	jpeg_create_compress(ci);
	jpeg_stdio_dest(ci, f);
	ci->image_width = (JDIMENSION)width;
	ci->image_height = (JDIMENSION)height;
	ci->input_components = 3;
	ci->in_color_space = JCS_RGB;
	jpeg_set_defaults(ci);
	jpeg_set_quality(ci, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
	jpeg_start_compress(ci, TRUE);
	while (ci->next_scanline < ci->image_height) {
		JSAMPROW r = (JSAMPROW)(rgb + (size_t)ci->next_scanline * (size_t)width * 3);
		jpeg_write_scanlines(ci, &r, 1);
	}
	jpeg_finish_compress(ci);
out:
	jpeg_destroy_compress(ci);
	free(e);
	return mlf_atomic_fclose(f, tmp, path, failed, err);
}

struct png_enc {
	jmp_buf jmp;
	char msg[256];
	png_structp png;
	png_infop info;
};

static void png_enc_error(png_structp png, png_const_charp msg)
{
	struct png_enc *e = png_get_error_ptr(png);
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	longjmp(e->jmp, 1);
}

int mlf_image_save_png(const char *path, const unsigned char *rgb, int width, int height,
		       struct mlf_error *err)
{
	if (check_pixels(path, rgb, width, height, err))
		return -1;
	char *tmp;
	FILE *f = mlf_atomic_fopen(path, &tmp, err);
	if (!f)
		return -1;
	struct png_enc *e = mlf_xcalloc(1, sizeof(*e));
	int failed = 1;

	e->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_enc_error, png_on_warning);
	if (!e->png || !(e->info = png_create_info_struct(e->png))) {
		mlf_fail(err, MLF_EX_SOFTWARE, "cannot start encoding '%s': out of memory", path);
		goto out;
	}
	if (setjmp(e->jmp)) {
		mlf_fail(err, MLF_EX_IOERR, "cannot write PNG '%s': %s", path, e->msg);
		goto out;
	}
	png_init_io(e->png, f);
	png_set_IHDR(e->png, e->info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(e->png, e->info);
	for (int y = 0; y < height; y++)
		png_write_row(e->png, rgb + (size_t)y * (size_t)width * 3);
	png_write_end(e->png, NULL);
	failed = 0;
out:
	png_destroy_write_struct(e->png ? &e->png : NULL, e->info ? &e->info : NULL);
	free(e);
	return mlf_atomic_fclose(f, tmp, path, failed, err);
}
