package gradcam

// riseSpec is RISE: the image under many random masks, each mask weighted by the class's
// probability under it (Petsiuk et al. 2018).
var riseSpec = MethodSpec{
	Name: RISE, Title: "RISE", Family: Sampled,
	Summary: "random masks weighted by the class's probability under each (Petsiuk et al. 2018)",
}
