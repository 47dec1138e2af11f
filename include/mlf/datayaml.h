/*
 * Ultralytics dataset descriptions (data.yaml): the root, the class names,
 * and the images of each split.
 *
 * train/val may each be a folder (searched recursively for images), a .txt
 * file listing images (relative lines resolved against the .txt's folder),
 * or a list of those.  A relative `path` is resolved against the yaml's own
 * folder (Ultralytics would use its global datasets_dir; naming the folder
 * the file sits in is what an operator means).  Labels follow Ultralytics:
 * the last "/images/" of the image path becomes "/labels/", the extension ".txt".
 *
 * Ownership: the struct owns all its strings; mlf_data_yaml_release().
 */
#ifndef MLF_DATAYAML_H
#define MLF_DATAYAML_H

#include <stddef.h>

#include "mlf/corrections.h"
#include "mlf/error.h"

struct mlf_image_list {
	char **paths;  /* absolute, sorted */
	size_t n;
};

struct mlf_data_yaml {
	char *file;                     /* absolute path of the yaml */
	char *root;                     /* absolute dataset root */
	struct mlf_class_names classes;
	struct mlf_image_list train;
	struct mlf_image_list val;
};

int mlf_data_yaml_load(const char *path, struct mlf_data_yaml *out, struct mlf_error *err);
void mlf_data_yaml_release(struct mlf_data_yaml *d);

/* The label file Ultralytics reads for `image` (allocated). */
char *mlf_label_path_for(const char *image);
/* Image by extension: bmp, jpeg, jpg, png, tif, tiff, webp, ... (any case). */
int mlf_is_image_name(const char *name);

#endif
