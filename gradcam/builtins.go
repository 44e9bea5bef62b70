package gradcam

// builtins are the built-in methods in the order Methods lists them (method_*.go, one file each).
var builtins = []*MethodSpec{&gradCAMSpec, &counterfactualSpec, &camSpec, &saliencySpec, &guidedBackpropSpec, &deconvnetSpec, &guidedGradCAMSpec, &occlusionSpec, &hiResCAMSpec, &gradCAMElementWiseSpec, &gradCAMPlusPlusSpec, &xGradCAMSpec, &layerCAMSpec, &femSpec, &eigenCAMSpec, &eigenGradCAMSpec, &scoreCAMSpec, &ablationCAMSpec, &fullGradSpec, &inputXGradientSpec, &integratedGradientsSpec, &smoothGradSpec, &gradientShapSpec, &riseSpec,
	&lrpSpecCustom, &lrpEpsilonSpec, &lrpGammaSpec, &lrpAlpha2Beta1Spec, &lrpEpsilonPlusSpec, &lrpEpsilonPlusFlatSpec, &lrpEpsilonGammaBoxSpec,
	&lrpEpsilonAlpha2Beta1Spec, &lrpEpsilonAlpha2Beta1FlatSpec, &deepLiftSpec, &deepLiftShapSpec, &limeSpec, &kernelShapSpec, &excitationBackpropSpec,
	&contrastiveExcitationBackpropSpec}
