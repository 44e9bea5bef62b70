package catch

import "os"

var debugStacks = os.Getenv("GRADCAM_DEBUG") != ""
