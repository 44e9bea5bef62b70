package gradcam

// occlusionSpec is Occlusion: score drop when a grey patch covers each pixel (Zeiler & Fergus 2014).
var occlusionSpec = MethodSpec{
	Name: Occlusion, Title: "Occlusion", Family: Sampled,
	Summary: "score drop when a grey patch covers each pixel (Zeiler & Fergus 2014)",
}
