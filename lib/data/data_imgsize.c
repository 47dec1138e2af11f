/*
 * Image sizes from file headers, so that scanning a dataset (which needs
 * every image's size for rectangular batches, as Ultralytics reads it with
 * PIL) does not decode every picture.  The pixels are decoded later, when
 * a sample needs them, and a file that turns out corrupt then fails that
 * sample with its name.  The Exif orientation (a JPEG's APP1, a PNG's eXIf)
 * is read too: OpenCV's imdecode turns the picture upright, and
 * Ultralytics' exif_size swaps the size of orientations 5 to 8.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/data.h"

static unsigned be16(const unsigned char *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

static unsigned long be32(const unsigned char *b)
{
	return (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 | (unsigned long)b[2] << 8 | b[3];
}

/* The orientation tag (0x0112) of IFD0 in Exif data (a TIFF header and its
 * IFDs); 1 if absent or unreadable. */
static int exif_orientation(const unsigned char *p, size_t n)
{
	if (n < 8)
		return 1;
	int le = p[0] == 'I' && p[1] == 'I';
	if (!le && !(p[0] == 'M' && p[1] == 'M'))
		return 1;
#define U16(q) (le ? (unsigned)(q)[0] | (unsigned)(q)[1] << 8 : (unsigned)(q)[0] << 8 | (unsigned)(q)[1])
#define U32(q) (le ? (unsigned long)U16(q) | (unsigned long)U16((q) + 2) << 16 \
		   : (unsigned long)U16(q) << 16 | (unsigned long)U16((q) + 2))
	unsigned long ifd = U32(p + 4);
	if (ifd + 2 > n)
		return 1;
	unsigned count = U16(p + ifd);
	for (unsigned i = 0; i < count; i++) {
		unsigned long e = ifd + 2 + 12ul * i;
		if (e + 12 > n)
			break;
		if (U16(p + e) == 0x0112 && U16(p + e + 2) == 3) {
			unsigned v = U16(p + e + 8);
			return v >= 1 && v <= 8 ? (int)v : 1;
		}
	}
#undef U16
#undef U32
	return 1;
}

/* IHDR's size, and the orientation of an eXIf chunk before the image data
 * (opencv-python 5.0 applies it to PNGs too). */
static int png_size(FILE *f, const char *path, int *w, int *h, int *orientation, struct mlf_error *err)
{
	unsigned char b[33];
	if (fread(b, 1, sizeof(b), f) != sizeof(b) || memcmp(b + 12, "IHDR", 4))
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid PNG image: no IHDR chunk", path);
	unsigned long ww = be32(b + 16), hh = be32(b + 20);
	if (!ww || !hh || ww > MLF_IMAGE_MAX_SIDE || hh > MLF_IMAGE_MAX_SIDE)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is %lux%lu: not a size mlf decodes (1..%d per side)",
				path, ww, hh, MLF_IMAGE_MAX_SIDE);
	*w = (int)ww;
	*h = (int)hh;
	unsigned char c[8];
	while (fread(c, 1, 8, f) == 8) {
		unsigned long len = be32(c);
		if (!memcmp(c + 4, "IDAT", 4) || !memcmp(c + 4, "IEND", 4) || len > 1ul << 24)
			break;
		if (!memcmp(c + 4, "eXIf", 4)) {
			unsigned char *d = malloc(len ? len : 1);
			if (d && fread(d, 1, len, f) == len)
				*orientation = exif_orientation(d, len);
			free(d);
			break;
		}
		if (fseek(f, (long)len + 4, SEEK_CUR))
			break;
	}
	return 0;
}

static int is_sof(int m)
{
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int jpeg_size(FILE *f, const char *path, int *w, int *h, int *orientation, struct mlf_error *err)
{
	unsigned char b[8];
	*orientation = 1;
	if (fseek(f, 2, SEEK_SET))
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot read image '%s'", path);
	for (;;) {
		int c = fgetc(f);
		if (c == EOF)
			break;
		if (c != 0xFF)
			return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid JPEG image: bad marker", path);
		int m;
		while ((m = fgetc(f)) == 0xFF)
			;
		if (m == EOF || m == 0xD9 || m == 0xDA)
			break;
		if (m == 0x01 || (m >= 0xD0 && m <= 0xD7))
			continue;
		if (fread(b, 1, 2, f) != 2)
			break;
		unsigned len = be16(b);
		if (len < 2)
			return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid JPEG image: bad segment", path);
		if (m == 0xE1 && len > 8) {   /* APP1: "Exif\0\0" then the TIFF data */
			unsigned char *seg = mlf_xmalloc(len - 2);   /* under 64 KiB */
			if (fread(seg, 1, len - 2, f) != len - 2) {
				free(seg);
				break;
			}
			int o = memcmp(seg, "Exif\0\0", 6) ? 1 : exif_orientation(seg + 6, len - 8);
			free(seg);
			if (*orientation == 1)
				*orientation = o;
			continue;
		}
		if (is_sof(m)) {
			if (len < 7 || fread(b, 1, 5, f) != 5)
				break;
			*h = (int)be16(b + 1);
			*w = (int)be16(b + 3);
			if (*w < 1 || *h < 1)
				return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid JPEG image: it is %dx%d",
						path, *w, *h);
			return 0;
		}
		if (fseek(f, (long)len - 2, SEEK_CUR))
			break;
	}
	return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a valid JPEG image: no frame header", path);
}

/* check_image: a JPEG must end with its EOI marker; Ultralytics re-saves the
 * file in place when it does not ("corrupt JPEG restored and saved"). */
static int jpeg_complete(FILE *f, const char *path, struct mlf_error *err)
{
	unsigned char b[2];
	if (fseek(f, -2, SEEK_END) || fread(b, 1, 2, f) != 2 || b[0] != 0xFF || b[1] != 0xD9)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is a JPEG cut short (it does not end with the "
				"end-of-image marker); Ultralytics would re-save it in place, mlf leaves it out: "
				"re-save or replace the file", path);
	return 0;
}

int mlf_image_header_size(const char *path, int *w, int *h, int *orientation, struct mlf_error *err)
{
	*orientation = 1;
	FILE *f = fopen(path, "rb");
	if (!f)
		return mlf_fail_errno(err, errno == ENOENT ? MLF_EX_NOINPUT : MLF_EX_IOERR, "cannot read image '%s'",
				      path);
	unsigned char sig[8];
	size_t got = fread(sig, 1, sizeof(sig), f);
	int rc;
	if (got >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
		rc = jpeg_size(f, path, w, h, orientation, err);
		if (!rc)
			rc = jpeg_complete(f, path, err);
	} else if (got == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8)) {
		rewind(f);
		rc = png_size(f, path, w, h, orientation, err);
	} else {
		rc = mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a JPEG or PNG image (the only formats mlf decodes)",
			      path);
	}
	fclose(f);
	return rc;
}
