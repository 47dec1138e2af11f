"""MLflow python_function loader for a YOLO detection model retrained by mlf.

retrain-run writes this file into every model it logs to MLflow (code/mlf_yolo.py),
so that mlflow.pyfunc.load_model("models:/<name>@champion") works wherever
Ultralytics is installed.  The weights are data/<name>.pt, an Ultralytics
checkpoint.

predict() takes images as paths or URLs (a string, a list of them, or a pandas
DataFrame whose first column holds them), or as numpy arrays (one HxWx3 BGR
image, or a list of them), and returns one row per detection as a pandas
DataFrame: image (index of the input), class_id, class_name, confidence, and
the box corners x1, y1, x2, y2 in pixels of the input image.  Ultralytics'
predict settings are its defaults; params, where MLflow passes them, go to it
(conf, iou, imgsz, device, max_det, ...).
"""

COLUMNS = ["image", "class_id", "class_name", "confidence", "x1", "y1", "x2", "y2"]


def _images(model_input):
    """The inputs as a list Ultralytics' predict accepts, one entry per image."""
    try:
        import pandas as pd
    except ImportError:  # pandas comes with MLflow; tolerate its absence anyway
        pd = None
    if pd is not None and isinstance(model_input, pd.DataFrame):
        return [v for v in model_input.iloc[:, 0].tolist()]
    if pd is not None and isinstance(model_input, pd.Series):
        return model_input.tolist()
    if isinstance(model_input, (str, bytes)):
        return [model_input]
    shape = getattr(model_input, "shape", None)
    if shape is not None and len(shape) == 3:
        return [model_input]
    return list(model_input)


class MlfYolo:
    def __init__(self, weights):
        from ultralytics import YOLO  # imported here: loading the MLmodel alone needs no Ultralytics

        self.weights = weights
        self.model = YOLO(weights, task="detect")

    def predict(self, model_input, params=None):
        import pandas as pd

        rows = []
        images = _images(model_input)
        results = self.model.predict(images, verbose=False, **dict(params or {}))
        for index, result in enumerate(results):
            names = result.names
            boxes = result.boxes
            for xyxy, conf, cls in zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist()):
                c = int(cls)
                rows.append([index, c, names.get(c, str(c)) if isinstance(names, dict) else names[c],
                             float(conf), *[float(v) for v in xyxy]])
        return pd.DataFrame(rows, columns=COLUMNS)


def _load_pyfunc(data_path):
    """MLflow calls this with the path of the flavor's data: the .pt file."""
    return MlfYolo(data_path)
